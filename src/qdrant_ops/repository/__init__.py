"""Where backups live: a local directory or an object store (s3://, gs://, az://), listing them."""
