"""sdmirror controller core: pure logic, no I/O of its own (sans-IO); see DESIGN.md."""
