from logsense.cli import main

main()
