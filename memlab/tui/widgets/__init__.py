"""One module per view of the main screen; each exports VIEW (a views.ViewSpec)."""
