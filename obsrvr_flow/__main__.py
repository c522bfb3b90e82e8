from obsrvr_flow.cli import main

main()
