# Test-only: merged over providers.tf in a scratch copy of infra/ by infra/test/run.sh, so the
# user-facing module never carries endpoint overrides. Points every service at a moto server
# on loopback with dummy credentials.
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    apigatewayv2 = var.endpoint
    cloudwatch   = var.endpoint
    logs         = var.endpoint
    dynamodb     = var.endpoint
    iam          = var.endpoint
    lambda       = var.endpoint
    sts          = var.endpoint
  }
}
