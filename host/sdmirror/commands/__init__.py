"""The `sdmirror` subcommands that are not a package of their own: one module each, each with
main(argv) -> exit status. (demo, emu and sim keep their command in their own package.)"""
