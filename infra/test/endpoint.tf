# Test-only, copied beside providers_override.tf by run.sh: the moto server's URL.
variable "endpoint" {
  type    = string
  default = "http://127.0.0.1:5000"
}
