from youwei.cli import main

main()
