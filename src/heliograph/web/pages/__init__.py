"""One module per page kind; ``heliograph.web.routes`` lists their routes."""
