# The real stack: DynamoDB on-demand table, the target-api Lambda, its IAM role, and an HTTP
# API in front of it. `terraform apply` here, then point loadgen at the `api_url` output.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
}
