"""PDF books to block tables: glyph layout, code blocks with their indentation, headings and
prose, page furniture removed; one extraction per PDF in a resource-limited worker process,
many PDFs side by side in a pool of them."""

from pipeline.common.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "ExtractionLimits": "extract",
        "PdfExtractionError": "extract",
        "build_pdf_document": "extract",
        "extract_pdf_isolated": "extract",
        "build_pdf_documents": "pool",
        "blocks_to_markdown": "blocks",
        "scan_inbox": "inbox",
    },
)
