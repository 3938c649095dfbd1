-- wrk script for tests/bench/webhook.sh: every request POSTs the AdmissionReview in the file $WRK_BODY, as the
-- API server does (Content-Type application/json, keep-alive). No response() callback: it would cost wrk CPU
-- on the same 2 cores; wrk counts non-2xx answers itself.
local f = assert(io.open(os.getenv("WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, */*"

-- Paced runs: with $WRK_DELAY_MS set, each connection waits a while after an answer before its next
-- request, so 64 connections offer about 64000 / (WRK_DELAY_MS + latency) reviews/s: the latency at a given
-- rate rather than at saturation (where it is connections / throughput by Little's law). The wait is drawn
-- uniformly from [0, 2 x WRK_DELAY_MS] (mean WRK_DELAY_MS): with one fixed pause the connections stay in
-- lockstep and 64 reviews arrive within a millisecond every pause, a burst no set of independent API server
-- requests produces. $WRK_FIXED_DELAY=1 keeps the fixed pause (the lockstep case).
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "")
local fixed = os.getenv("WRK_FIXED_DELAY") == "1"
if pause and pause > 0 then
	if fixed then
		function delay()
			return pause
		end
	else
		function init(args)
			math.randomseed(os.time() + math.floor(os.clock() * 1e6) + tonumber(tostring({}):match("0x(%x+)"), 16) % 1000003)
		end
		function delay()
			return math.random(0, 2 * pause)
		end
	end
end
