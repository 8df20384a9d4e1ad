-- Move a flow run's record to a new state, unless it already ended (a final state stays).
-- KEYS[1] the flow run's record hash, KEYS[2] its event stream, KEYS[3] (optional) what the
-- state indexes' keys start with: the run moves from the index of its old state type to
-- that of the new one, scored by its creation time (the dashboard pages through these).
-- ARGV: ttl, state type, state name, message, timestamp, then more field/value pairs to set
-- Returns 1 if the state was recorded, 0 if the run had already ended.
local current = redis.call('HGET', KEYS[1], 'type')
if current == 'COMPLETED' or current == 'FAILED' or current == 'CRASHED'
    or current == 'CANCELLED' then
  return 0
end
redis.call('HSET', KEYS[1], 'type', ARGV[2], 'state', ARGV[3], 'message', ARGV[4], 'ts', ARGV[5])
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
if KEYS[3] then
  local id = redis.call('HGET', KEYS[1], 'id')
  if id then
    local created = redis.call('HGET', KEYS[1], 'created') or ARGV[5]
    if current and current ~= ARGV[2] then
      redis.call('ZREM', KEYS[3] .. current, id)
    end
    redis.call('ZADD', KEYS[3] .. ARGV[2], created, id)
  end
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 100, '*', 'type', ARGV[2], 'state', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
