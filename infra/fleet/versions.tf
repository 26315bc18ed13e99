# The fleet loadgen sends load from: one Lambda function, `loadgen-worker`, that runs a shard of
# a plan per invocation. `terraform apply` here, then `loadgen run <scenario> --fleet N --target URL`.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
}
