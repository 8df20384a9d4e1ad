-- Record a batch of attempt outcomes; each only if this worker still holds the attempt
-- (fencing: the entry is still the run's current one and still ours in the pending list).
-- KEYS[1] retries zset
-- ARGV: group, consumer, queue-stream prefix, ttl, then per outcome: queue, entry id,
--       flow run id, flow-run prefix, task run id, outcome, final ('1'/'0'), retry due ms or '',
--       then the outcome in plain words for `floq inspect`: state type, state name, message,
--       attempt start and end (epoch seconds)
-- Returns one 1 (recorded) or 0 (refused) per outcome.
-- The work is per batch where it can be: one XPENDING, XACK and XDEL per queue, one result
-- entry (fields 'o:<task run id>') and one count update per flow run and state type.
local retries = KEYS[1]
local group, consumer, qprefix, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local WIDTH = 13

-- 1. Which outcomes are still this worker's: the run's current entry, and pending for us.
local current, by_queue = {}, {}
for i = 5, #ARGV, WIDTH do
  local queue, entry, prefix, tid = ARGV[i], ARGV[i + 1], ARGV[i + 3], ARGV[i + 4]
  local f = redis.call('HMGET', prefix .. 't:' .. tid, 'e', 'd')
  if f[1] == entry then
    current[i] = f[2] == '1'  -- has dependents
    by_queue[queue] = true
  end
end
-- A consumer's pending list holds only its attempts in flight (an entry leaves it whenever
-- its run's current entry changes), so reading all of it is cheap.
local ours = {}
for queue, _ in pairs(by_queue) do
  for _, p in ipairs(redis.call('XPENDING', qprefix .. queue, group, '-', '+', 1000000,
      consumer)) do
    ours[queue .. ' ' .. p[1]] = true
  end
end

-- 2. Record the accepted ones.
local replies, acked, results, counts = {}, {}, {}, {}
for i = 5, #ARGV, WIDTH do
  local queue, entry, fr, prefix = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local accepted = 0
  if current[i] ~= nil and ours[queue .. ' ' .. entry] then
    accepted = 1
    ours[queue .. ' ' .. entry] = nil  -- the same attempt twice in one batch: once
    local tid, outcome, final, due = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
    local stype, sname, message = ARGV[i + 8], ARGV[i + 9], ARGV[i + 10]
    local started, ended = ARGV[i + 11], ARGV[i + 12]
    local task = prefix .. 't:' .. tid
    local a = acked[queue]
    if not a then
      a = {}
      acked[queue] = a
    end
    a[#a + 1] = entry
    local r = results[prefix]
    if not r then
      r = {}
      results[prefix] = r
    end
    r[#r + 1] = 'o:' .. tid
    r[#r + 1] = outcome
    if final == '1' then
      redis.call('HSET', task, 's', outcome, 'e', '', 'f', '1', 'k', consumer, 'st', sname,
        'm', message, 'a', started, 'z', ended)
      local c = counts[prefix]
      if not c then
        c = {}
        counts[prefix] = c
      end
      c[stype] = (c[stype] or 0) + 1
      if current[i] then  -- release the dependents whose last upstream this was
        local deps = prefix .. 'd:' .. tid
        for _, d in ipairs(redis.call('SMEMBERS', deps)) do
          local dkey = prefix .. 't:' .. d
          if redis.call('HINCRBY', dkey, 'w', -1) == 0 then
            local f = redis.call('HMGET', dkey, 'p', 'u', 'q', 'n', 'c')
            local id = redis.call('XADD', qprefix .. f[3], '*', 'f', fr, 't', d, 'p', f[1],
              'u', f[2], 'n', f[4], 'c', f[5])
            redis.call('HSET', dkey, 'e', id)
          end
        end
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
for queue, entries in pairs(acked) do
  local stream = qprefix .. queue
  redis.call('XACK', stream, group, unpack(entries))
  redis.call('XDEL', stream, unpack(entries))
end
for prefix, fields in pairs(results) do
  local stream = prefix .. 'results'
  redis.call('XADD', stream, '*', unpack(fields))
  redis.call('EXPIRE', stream, ttl)
end
for prefix, c in pairs(counts) do
  for stype, n in pairs(c) do
    redis.call('HINCRBY', prefix .. 'run', 'n:' .. stype, n)
  end
end
return replies
