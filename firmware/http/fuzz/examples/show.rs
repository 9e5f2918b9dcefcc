fn main() {
    for path in std::env::args().skip(1) {
        let input = std::fs::read(&path).unwrap();
        for shape in nowcam_http_fuzz::SHAPES {
            let served = nowcam_http_fuzz::serve(&input, shape).unwrap();
            let tail = &served.output[served.output.len().saturating_sub(120)..];
            println!(
                "=== {path} {:?} polls={} calls={} bytes={}\n{:?}\n",
                shape.keep_alive,
                served.polls,
                served.calls.len(),
                served.output.len(),
                String::from_utf8_lossy(tail)
            );
        }
    }
}
