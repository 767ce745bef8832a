from tgo.cli import main

main()
