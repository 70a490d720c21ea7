from yamlpipe.cli import main

main()
