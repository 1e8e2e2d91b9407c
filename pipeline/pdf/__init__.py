"""PDF books to block tables: glyph layout, code blocks with their indentation, headings and
prose, page furniture removed; one extraction per PDF in a resource-limited worker process."""
