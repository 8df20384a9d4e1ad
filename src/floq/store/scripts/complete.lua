-- Record one attempt's outcome, if this worker still holds the attempt (fencing).
-- KEYS[1] task hash, KEYS[2] queue stream, KEYS[3] results stream, KEYS[4] retries zset
-- ARGV: entry id, group, consumer, outcome, final ('1'/'0'), retry due ms ('' for none),
--       flow-run prefix, flow run id, task run id, queue-stream prefix, ttl
local task, stream, results, retries = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local entry, group, consumer, outcome, final, due, prefix, fr, tid, qprefix, ttl = unpack(ARGV)
if redis.call('HGET', task, 'e') ~= entry then
  return 0
end
local pel = redis.call('XPENDING', stream, group, entry, entry, 1)
if #pel == 0 or pel[1][2] ~= consumer then
  return 0
end
redis.call('XACK', stream, group, entry)
redis.call('XDEL', stream, entry)
redis.call('HSET', task, 's', outcome, 'e', '')
redis.call('XADD', results, '*', 't', tid, 's', outcome)
redis.call('EXPIRE', results, ttl)
if final == '1' then
  redis.call('HSET', task, 'f', '1')
  local deps = prefix .. 'd:' .. tid
  for _, d in ipairs(redis.call('SMEMBERS', deps)) do
    local dkey = prefix .. 't:' .. d
    if redis.call('HINCRBY', dkey, 'w', -1) == 0 then
      local f = redis.call('HMGET', dkey, 'p', 'u', 'q', 'n')
      local id = redis.call('XADD', qprefix .. f[3], '*', 'f', fr, 't', d, 'p', f[1], 'u', f[2], 'n', f[4])
      redis.call('HSET', dkey, 'e', id)
    end
  end
  redis.call('DEL', deps)
elseif due ~= '' then
  redis.call('HINCRBY', task, 'n', 1)
  redis.call('ZADD', retries, due, task)
end
return 1
