from lldecode.cli import main

main()
