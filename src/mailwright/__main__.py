from mailwright.cli import main

main()
