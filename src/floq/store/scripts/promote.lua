-- Put due retries back on their queue streams.
-- KEYS[1] retries zset; ARGV: now (ms), limit, queue-stream prefix
-- Returns {how many were due, the due time (ms) of the earliest retry left, or ''}.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, task in ipairs(due) do
  redis.call('ZREM', KEYS[1], task)
  local f = redis.call('HMGET', task, 'r', 'i', 'p', 'u', 'q', 'n', 'f', 'c')
  if f[3] and f[7] ~= '1' then
    local id = redis.call('XADD', ARGV[3] .. f[5], '*', 'f', f[1], 't', f[2], 'p', f[3], 'u', f[4], 'n', f[6], 'c', f[8])
    redis.call('HSET', task, 'e', id)
  end
end
local left = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, left[2] or ''}
