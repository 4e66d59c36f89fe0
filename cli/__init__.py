"""The `maeul` command: the outermost floor of the project. It may import anything; nothing imports it."""
