-- wrk script: PUT of new 16 KiB files, Basic credentials from BENCH_AUTH. Every request
-- names a file no one has written yet: BENCH_PUT_PATH (a folder URL path ending in
-- "/", fresh for each run) + "t<thread>-<n>.bin", so each answer is a 201 Created of
-- a new file, the case a phone's first backup is made of.
local auth = os.getenv("BENCH_AUTH")
local folder = os.getenv("BENCH_PUT_PATH") or "/put/"
local body = string.rep("0123456789abcdef", 1024) -- 16 KiB

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local n = 0
function request()
  n = n + 1
  local path = string.format("%st%d-%d.bin", folder, id, n)
  return wrk.format("PUT", path, { ["Authorization"] = auth, ["Content-Type"] = "application/octet-stream" }, body)
end
