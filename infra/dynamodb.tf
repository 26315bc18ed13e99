# Single-table design: items live at PK = "ITEM#<id>", SK = "ITEM".
resource "aws_dynamodb_table" "items" {
  name                        = "${var.name}-items"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "PK"
  range_key                   = "SK"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "PK"
    type = "S"
  }

  attribute {
    name = "SK"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  #checkov:skip=CKV_AWS_119:The AWS-managed KMS key is enough for load-test data; a customer-managed key adds $1/month and a key policy to maintain.
  server_side_encryption {
    enabled = true
  }
}
