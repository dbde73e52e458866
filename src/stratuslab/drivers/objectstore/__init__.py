"""Blob stores behind CDMI file storage (`core.objects.BlobStore`)."""
