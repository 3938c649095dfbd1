-- wrk script for tests/bench/webhook.sh: every request POSTs the AdmissionReview in the file $WRK_BODY, as the
-- API server does (Content-Type application/json, keep-alive). No response() callback: it would cost wrk CPU
-- on the same 2 cores; wrk counts non-2xx answers itself.
local f = assert(io.open(os.getenv("WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, */*"

-- Paced runs: with $WRK_DELAY_MS set, each connection waits that long after an answer before its next
-- request, so 64 connections offer about 64000 / (WRK_DELAY_MS + latency) reviews/s: the latency at a given
-- rate rather than at saturation (where it is connections / throughput by Little's law).
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "")
if pause and pause > 0 then
	function delay()
		return pause
	end
end
