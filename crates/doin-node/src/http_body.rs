//! Reading another node's HTTP answer with a bound on its size.
//!
//! reqwest inflates gzip bodies as they arrive (the clients ask for gzip: API answers are
//! compressed), so a body's `Content-Length` says nothing of what it grows to: a 64 KiB
//! answer can inflate to gigabytes. [`read_bounded`] counts the inflated bytes as they come
//! and stops at the bound.

/// The body of `resp`, or an error once it passes `limit` bytes (after inflation).
pub async fn read_bounded(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|l| l > limit as u64) {
        return Err(format!("body too large (over {limit} bytes)"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > limit {
            return Err(format!("body too large (over {limit} bytes)"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
