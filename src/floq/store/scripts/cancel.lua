-- Cancel the unfinished task runs of one flow run: queued ones leave their stream (never run),
-- claimed ones are acknowledged for their worker (so their late outcome is refused), waiting
-- ones and delayed retries stay where they are but can no longer be released or promoted.
-- The flow run joins the cancelled set, which workers read with each heartbeat to interrupt
-- its running task runs where their mode allows.
-- KEYS[1] retries zset, KEYS[2] cancelled flow runs zset
-- ARGV: flow-run prefix, queue-stream prefix, consumer group, flow run id, now (epoch s)
-- Returns the number of task runs cancelled.
local prefix, qprefix, group, fr, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
redis.call('ZADD', KEYS[2], now, fr)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 3600)
local cancelled = 0
for _, tid in ipairs(redis.call('LRANGE', prefix .. 'tasks', 0, -1)) do
  local task = prefix .. 't:' .. tid
  local f = redis.call('HMGET', task, 'f', 'e', 'q')
  if f[1] ~= '1' and f[3] then
    if f[2] and f[2] ~= '' then
      local stream = qprefix .. f[3]
      redis.call('XACK', stream, group, f[2])
      redis.call('XDEL', stream, f[2])
    end
    redis.call('HSET', task, 'f', '1', 'e', '', 'st', 'Cancelled', 'x', '1')
    redis.call('ZREM', KEYS[1], task)
    redis.call('HINCRBY', prefix .. 'run', 'n:CANCELLED', 1)
    cancelled = cancelled + 1
  end
end
return cancelled
