"""The embedded dev stack: Tansu, SecantusDB and every service as child processes."""
