"""The connection's pages, added to the marketing app by kith.app (marketing cannot import
the connection): Refresh Target Group List, Sync Target Group Now, the diagnosis."""
