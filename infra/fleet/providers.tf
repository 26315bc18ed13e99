provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project    = "loadlab-fleet"
      stack-name = var.name
    }
  }
}

data "aws_region" "current" {}
