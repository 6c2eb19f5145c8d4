-- wrk script: PROPFIND Depth 1 (allprop) with Basic credentials from BENCH_AUTH.
wrk.method = "PROPFIND"
wrk.headers["Depth"] = "1"
wrk.headers["Content-Type"] = "application/xml"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
wrk.body = '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
