-- Record a batch of attempt outcomes; each only if this worker still holds the attempt
-- (fencing: the entry is still the run's current one and still ours in the pending list).
-- KEYS[1] retries zset
-- ARGV: group, consumer, queue-stream prefix, ttl, then per outcome: queue, entry id,
--       flow run id, flow-run prefix, task run id, outcome, final ('1'/'0'), retry due ms or '',
--       then the outcome in plain words for `floq inspect`: state type, state name, message,
--       attempt start and end (epoch seconds)
-- Returns one 1 (recorded) or 0 (refused) per outcome.
local retries = KEYS[1]
local group, consumer, qprefix, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local replies, expiring = {}, {}
for i = 5, #ARGV, 13 do
  local queue, entry, fr, prefix = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local tid, outcome, final, due = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
  local stype, sname, message = ARGV[i + 8], ARGV[i + 9], ARGV[i + 10]
  local stream, task = qprefix .. queue, prefix .. 't:' .. tid
  local accepted = 0
  if redis.call('HGET', task, 'e') == entry then
    local pel = redis.call('XPENDING', stream, group, entry, entry, 1)
    if #pel > 0 and pel[1][2] == consumer then
      accepted = 1
    end
  end
  if accepted == 1 then
    redis.call('XACK', stream, group, entry)
    redis.call('XDEL', stream, entry)
    local results = prefix .. 'results'
    redis.call('XADD', results, '*', 't', tid, 's', outcome)
    expiring[results] = true
    local started, ended = ARGV[i + 11], ARGV[i + 12]
    if final == '1' then
      redis.call('HSET', task, 's', outcome, 'e', '', 'f', '1', 'k', consumer, 'st', sname,
        'm', message, 'a', started, 'z', ended)
      redis.call('HINCRBY', prefix .. 'run', 'n:' .. stype, 1)
      local deps = prefix .. 'd:' .. tid
      local dependents = redis.call('SMEMBERS', deps)
      for _, d in ipairs(dependents) do
        local dkey = prefix .. 't:' .. d
        if redis.call('HINCRBY', dkey, 'w', -1) == 0 then
          local f = redis.call('HMGET', dkey, 'p', 'u', 'q', 'n', 'c')
          local id = redis.call('XADD', qprefix .. f[3], '*', 'f', fr, 't', d, 'p', f[1],
            'u', f[2], 'n', f[4], 'c', f[5])
          redis.call('HSET', dkey, 'e', id)
        end
      end
      if #dependents > 0 then
        redis.call('DEL', deps)
      end
    else
      redis.call('HSET', task, 's', outcome, 'e', '', 'k', consumer, 'st', sname,
        'm', message, 'a', started, 'z', ended)
      if due ~= '' then
        redis.call('HINCRBY', task, 'n', 1)
        redis.call('ZADD', retries, due, task)
      end
    end
  end
  replies[#replies + 1] = accepted
end
for results in pairs(expiring) do
  redis.call('EXPIRE', results, ttl)
end
return replies
