//! The AWS SDK configuration every client loadgen makes shares: ring TLS through rustls (the
//! workspace builds no aws-lc), the region, and — for an endpoint on loopback (the local stack,
//! a test's moto) — static dummy credentials, so the SDK never looks for real ones nor at the
//! instance-metadata address.

/// The configuration for `region`, aimed at `endpoint` instead of AWS when one is given.
pub async fn config(endpoint: Option<&str>, region: &str) -> aws_config::SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .region(aws_config::Region::new(region.to_owned()));
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url).credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "loadgen-local",
        ));
    }
    loader.load().await
}
