"""PyInstaller entry script: the frozen app starts the same main() as `heirloom-gui`."""

from gui.app import main

main()
