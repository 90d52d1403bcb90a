"""An evaluation run once made: its folder, its typed parts, tables, case pictures and submission files."""
