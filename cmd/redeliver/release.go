package main

import "github.com/spf13/cobra"

// addReleaseCommands adds what installing and packaging need: `version`
// and --version, the gh extension's login, and the hidden gen-docs.
func addReleaseCommands(root *cobra.Command, io *streams) {
	addVersion(root, io)
	addGHExtension(root, io)
	root.AddCommand(newGenDocsCmd(io))
}
