from lldecode.cli.app import main

main()
