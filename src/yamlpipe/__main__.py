from yamlpipe.cli import entry

entry()
