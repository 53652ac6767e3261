"""The bulkops local stack's LocalStack plugins (infra/local/localstack)."""
