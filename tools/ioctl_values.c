/*
 * Print "NAME VALUE" for each ioctl request in the IOCTLS list, so that the
 * compiler, not a reimplementation of _IOC(), encodes them.  Run by
 * tools/gen_tables.py, which passes the headers and the list:
 *
 *   gcc -include asm-generic/ioctls.h -include linux/fs.h \
 *       -D'IOCTLS=X(FIONREAD) X(FICLONE)' tools/ioctl_values.c
 */
#include <stdio.h>
#include <linux/ioctl.h>

/* Types that size some requests, declared outside the requests' headers. */
#include <asm/termbits.h>	/* struct termios2: TCGETS2... */
#include <linux/blktrace_api.h>	/* struct blk_user_trace_setup: BLKTRACESETUP */
#include <linux/fiemap.h>	/* struct fiemap: FS_IOC_FIEMAP */
#include <linux/serial.h>	/* struct serial_iso7816: TIOCGISO7816... */

/* The table holds one encoding: asm-generic's, on a 64-bit ABI (x86_64, aarch64...). */
#if !defined(__LP64__) || _IOC_WRITE != 1U || _IOC_READ != 2U || _IOC_SIZEBITS != 14
#error "not the 64-bit asm-generic ioctl encoding"
#endif

#define X(name) printf("%s %#lx\n", #name, (unsigned long)(name));

int main(void)
{
	IOCTLS
	return 0;
}
