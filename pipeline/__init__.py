"""Pure processing stages: load, clean, OCR, extract, assemble.

Nothing here knows about Prefect, object stores or databases. Every page stage has the
shape ``stage(input, context) -> output``; external programs are wrapped one per module
(``tesseract``, ``poppler``) and turn their failures into ``models.errors`` exceptions.
"""
