"""memlab's Textual front end.  Importing this package does not import textual:
`memlab.tui.app` does.  The app reads everything through an injected
`memlab.tui.source.DataSource` (LiveSource for real processes; the tests bring their
own fake)."""
