"""The document package: manifest, download and safe unpacking, documents, printing (`fetch`, `show`, `print`)."""
