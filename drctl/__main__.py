from drctl.cli.app import main

main()
