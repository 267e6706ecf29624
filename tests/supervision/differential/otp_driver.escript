#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noshell
%%
%% Runs supervision scenarios (*.scn, see README.md next to this file) against
%% Erlang/OTP's own `supervisor` and writes one trace per scenario:
%%
%%   escript otp_driver.escript OUT_DIR a.scn b.scn ...
%%
%% All scenarios run in parallel (one erl start-up for all of them). Events are
%% ordered by strict monotonic timestamps: starts, ignores and start errors are
%% logged by the start functions (which run inside the supervisor), exits by
%% process tracing of every child and supervisor.
-mode(compile).

-export([main/1, init/1, start_worker/2, start_worker/3, start_sup/2,
         worker_init/2]).

-define(SETTLE_MS, 50).
%% A sleep that wakes later than this ran the scenario on another schedule
%% than the caflens run's virtual clock (a loaded machine: a TSan run, a
%% parallel build): its trace is no reference, and the scenario is recorded
%% again, up to ATTEMPTS times.
-define(SLIP_MS, 40).
-define(ATTEMPTS, 4).

main([OutDir | Files]) when Files =/= [] ->
    %% Crash and supervisor reports are expected here; the traces say it all.
    logger:set_primary_config(level, none),
    ok = filelib:ensure_path(OutDir),
    Parent = self(),
    Pids = [spawn(fun() -> Parent ! {done, self(), F, run_file(F)} end)
            || F <- Files],
    Results = [receive {done, P, F, Lines} -> {F, Lines}
               after 60000 -> {F, ["driver timeout"]} end
               || {P, F} <- lists:zip(Pids, Files)],
    lists:foreach(
      fun({F, Lines}) ->
              Name = filename:basename(F, ".scn"),
              Out = filename:join(OutDir, Name ++ ".trace"),
              ok = file:write_file(Out, [[L, $\n] || L <- Lines])
      end, Results),
    io:format("otp_driver: ~b scenarios traced into ~s~n",
              [length(Results), OutDir]),
    halt(0);
main(_) ->
    io:format(standard_error,
              "usage: otp_driver.escript OUT_DIR SCENARIO.scn...~n", []),
    halt(2).

%% -- scenario files -----------------------------------------------------------

run_file(File) ->
    run_file(File, 1).

run_file(File, Attempt) ->
    try
        {ok, Bin} = file:read_file(File),
        {Nodes, Steps} = parse(binary_to_list(Bin)),
        case run(Nodes, Steps) of
            {Lines, 0} ->
                Lines;
            {Lines, Late} when Attempt >= ?ATTEMPTS ->
                io:format(standard_error,
                          "otp_driver: ~s: timers still late by up to ~b ms "
                          "after ~b recordings; keeping the last~n",
                          [File, Late, Attempt]),
                Lines;
            {_, Late} ->
                io:format(standard_error,
                          "otp_driver: ~s: a timer woke ~b ms late; "
                          "recording again~n", [File, Late]),
                run_file(File, Attempt + 1)
        end
    catch
        Class:Reason:Stack ->
            [lists:flatten(io_lib:format("driver error ~p:~p ~p",
                                         [Class, Reason, Stack]))]
    end.

parse(Text) ->
    Lines = [strip_comment(L) || L <- string:split(Text, "\n", all)],
    Tokens = [string:lexemes(L, " \t\r") || L <- Lines],
    lists:foldr(
      fun([], Acc) -> Acc;
         ([Kind, Path | Attrs], {Ns, Ss})
           when Kind =:= "sup"; Kind =:= "child"; Kind =:= "dyn" ->
              {[{list_to_atom(Kind), Path, attrs(Attrs)} | Ns], Ss};
         (Step, {Ns, Ss}) ->
              {Ns, [Step | Ss]}
      end, {[], []}, Tokens).

strip_comment(L) ->
    case string:split(L, "#") of
        [Before | _] -> Before;
        [] -> ""
    end.

attrs(Tokens) ->
    maps:from_list([list_to_tuple(string:split(T, "=")) || T <- Tokens]).

attr(Node, Key, Default) ->
    {_, _, Attrs} = Node,
    maps:get(Key, Attrs, Default).

parent(Path) ->
    case string:split(Path, "/", trailing) of
        [P, _] -> P;
        _ -> ""
    end.

%% The supervisor of a child: its parent, or for a dynamic child
%% (<sup>/<template>/<arg>) its grandparent.
sup_of(Ctx, Path) ->
    P = parent(Path),
    case node_of(Ctx, P) of
        {dyn, _, _} -> parent(P);
        _ -> P
    end.

basename(Path) ->
    lists:last(string:split(Path, "/", all)).

%% -- running a scenario -------------------------------------------------------

run(Nodes, Steps) ->
    process_flag(trap_exit, true),
    Log = ets:new(log, [ordered_set, public]),
    Reg = ets:new(reg, [set, public]),
    Collector = spawn_link(fun() -> collect(Log, Reg) end),
    Ctx = #{log => Log, reg => Reg, collector => Collector},
    [ets:insert(Reg, [{{node, P}, N}, {{pos, P}, I}])
     || {I, {_, P, _} = N} <- lists:zip(lists:seq(1, length(Nodes)), Nodes)],
    [{sup, Top, _} | _] = Nodes,
    %% Start on a whole second of the monotonic clock, as the caflens run
    %% starts at virtual time 0: OTP stamps restarts with
    %% erlang:monotonic_time(1), so the second boundaries must line up.
    Ms = erlang:monotonic_time(millisecond),
    nap(Ctx, 1000 - (((Ms rem 1000) + 1000) rem 1000)),
    _ = supervisor:start_link(?MODULE, {sup, Ctx, Top}),
    settle(Ctx),
    lists:foreach(fun(Step) -> step(Ctx, Top, Step), settle(Ctx) end, Steps),
    settle(Ctx),
    Collector ! {sync, self()},
    receive synced -> ok end,
    Lines = [L || {_, L} <- ets:tab2list(Log)],
    Late = lists:max([0 | [L || {{late, _}, L} <- ets:tab2list(Reg)]]),
    cleanup(Reg),
    {Lines, Late}.

settle(Ctx) ->
    nap(Ctx, ?SETTLE_MS).

%% timer:sleep/1 that notes in the scenario's registry how late it woke,
%% when more than SLIP_MS. Also called by workers, which may
%% outlive their scenario's registry.
nap(#{reg := Reg}, Ms) ->
    T0 = erlang:monotonic_time(millisecond),
    timer:sleep(Ms),
    Late = erlang:monotonic_time(millisecond) - T0 - Ms,
    case Late > ?SLIP_MS of
        true -> catch ets:insert(Reg, {{late, erlang:unique_integer()}, Late});
        false -> ok
    end,
    ok.

cleanup(Reg) ->
    [begin unlink(Pid), exit(Pid, kill) end
     || {{pid, _}, Pid} <- ets:tab2list(Reg), is_process_alive(Pid)],
    ok.

key() ->
    {erlang:monotonic_time(nanosecond), erlang:unique_integer([monotonic])}.

log(#{log := Log}, Line) ->
    ets:insert(Log, {key(), lists:flatten(Line)}).

%% Receives the exit trace events of every child and supervisor.
collect(Log, Reg) ->
    receive
        {trace_ts, Pid, exit, Reason, TS} ->
            case catch ets:lookup(Reg, {path, Pid}) of
                [{_, Path}] ->
                    ets:insert(Log, {TS, lists:flatten(["exit ", Path, " ",
                                                       fmt(Reason)])}),
                    collect(Log, Reg);
                [] -> collect(Log, Reg);
                _ -> ok % the scenario is over
            end;
        {sync, From} ->
            From ! synced,
            collect(Log, Reg);
        _ ->
            collect(Log, Reg)
    end.

track(#{reg := Reg, collector := C}, Path, Pid) ->
    ets:insert(Reg, {{pid, Path}, Pid}),
    ets:insert(Reg, {{path, Pid}, Path}),
    erlang:trace(Pid, true, [procs, strict_monotonic_timestamp, {tracer, C}]).

lookup_pid(#{reg := Reg}, Path) ->
    case ets:lookup(Reg, {pid, Path}) of
        [{_, Pid}] -> Pid;
        [] -> undefined
    end.

%% Tree nodes, and children added by start_child (not part of init).
node_of(#{reg := Reg}, Path) ->
    case ets:lookup(Reg, {node, Path}) of
        [{_, N}] -> N;
        [] -> case ets:lookup(Reg, {extra, Path}) of
                  [{_, N}] -> N;
                  [] -> undefined
              end
    end.

%% -- supervisors and workers --------------------------------------------------

init({sup, Ctx, Path}) ->
    log(Ctx, ["start ", Path]),
    track(Ctx, Path, self()),
    #{reg := Reg} = Ctx,
    Node = node_of(Ctx, Path),
    Flags = #{strategy => list_to_atom(attr(Node, "strategy", "one_for_one")),
              intensity => list_to_integer(attr(Node, "intensity", "1")),
              period => list_to_integer(attr(Node, "period", "5")),
              auto_shutdown => list_to_atom(attr(Node, "auto_shutdown",
                                                 "never"))},
    Children = [child_spec(Ctx, N) || {_, P, _} = N <- ets_nodes(Reg),
                                      parent(P) =:= Path],
    {ok, {Flags, Children}}.

%% The scenario's tree nodes in file order.
ets_nodes(Reg) ->
    [N || {_, N} <- lists:sort([{ets:lookup_element(Reg, {pos, P}, 2), N}
                                || {{node, P}, N} <- ets:tab2list(Reg)])].

child_spec(Ctx, {Kind, Path, _} = Node) ->
    Type = case Kind of sup -> supervisor; _ -> worker end,
    Start = case Kind of
                sup -> {?MODULE, start_sup, [Ctx, Path]};
                _ -> {?MODULE, start_worker, [Ctx, Path]}
            end,
    DefaultShutdown = case Type of supervisor -> "infinity"; _ -> "5000" end,
    Shutdown = case attr(Node, "shutdown", DefaultShutdown) of
                   "brutal_kill" -> brutal_kill;
                   "infinity" -> infinity;
                   Ms -> list_to_integer(Ms)
               end,
    #{id => list_to_atom(basename(Path)),
      start => Start,
      restart => list_to_atom(attr(Node, "restart", "permanent")),
      shutdown => Shutdown,
      type => Type,
      significant => list_to_atom(attr(Node, "significant", "false"))}.

start_sup(Ctx, Path) ->
    case supervisor:start_link(?MODULE, {sup, Ctx, Path}) of
        {ok, Pid} -> {ok, Pid};
        {error, Reason} = Err ->
            log(Ctx, ["start_error ", Path, " ", fmt(Reason)]),
            Err
    end.

start_worker(Ctx, Template, Arg) ->
    do_start_worker(Ctx, Template ++ "/" ++ Arg, node_of(Ctx, Template)).

start_worker(Ctx, Path) ->
    do_start_worker(Ctx, Path, node_of(Ctx, Path)).

do_start_worker(Ctx, Path, Node) ->
    #{reg := Reg} = Ctx,
    %% An attempt that takes time blocks the supervisor, then decides.
    nap(Ctx, list_to_integer(attr(Node, "delay_ms", "0"))),
    Script = case ets:lookup(Reg, {instance_starts, Path}) of
                 [{_, S}] -> S;
                 [] -> attr(Node, "starts", "o")
             end,
    N = ets:update_counter(Reg, {starts, Path}, 1, {{starts, Path}, 0}),
    case lists:nth(min(N, length(Script)), Script) of
        $i ->
            log(Ctx, ["ignore ", Path]),
            ignore;
        $e ->
            log(Ctx, ["start_error ", Path, " boom"]),
            {error, boom};
        $o ->
            Mode = list_to_atom(attr(Node, "on_shutdown", "comply")),
            SlowMs = list_to_integer(attr(Node, "slow_ms", "50")),
            {ok, Pid} = proc_lib:start_link(?MODULE, worker_init,
                                            [self(), {Ctx, Mode, SlowMs}]),
            track(Ctx, Path, Pid),
            log(Ctx, ["start ", Path]),
            {ok, Pid}
    end.

worker_init(Parent, {Ctx, Mode, SlowMs}) ->
    Mode =/= comply andalso process_flag(trap_exit, true),
    proc_lib:init_ack(Parent, {ok, self()}),
    worker_loop(Ctx, Mode, SlowMs).

worker_loop(Ctx, Mode, SlowMs) ->
    receive
        {exit, Reason} -> exit(Reason);
        {'EXIT', _, _} when Mode =:= hang -> worker_loop(Ctx, Mode, SlowMs);
        {'EXIT', _, Reason} when Mode =:= slow ->
            nap(Ctx, SlowMs),
            exit(Reason);
        _ -> worker_loop(Ctx, Mode, SlowMs)
    end.

%% -- steps --------------------------------------------------------------------

step(Ctx, _Top, ["crash", Path, Reason]) ->
    case lookup_pid(Ctx, Path) of
        undefined -> ok;
        Pid when Reason =:= "kill" -> exit(Pid, kill);
        Pid -> Pid ! {exit, parse_reason(Reason)}
    end;
step(Ctx, _Top, ["wait", Ms]) ->
    nap(Ctx, list_to_integer(Ms));
step(Ctx, Top, ["stop"]) ->
    exit(lookup_pid(Ctx, Top), shutdown);
step(Ctx, _Top, ["start_child", Sup, Id | Attrs]) ->
    #{reg := Reg} = Ctx,
    Path = Sup ++ "/" ++ Id,
    Node = {child, Path, attrs(Attrs)},
    ets:insert(Reg, {{extra, Path}, Node}),
    R = supervisor:start_child(lookup_pid(Ctx, Sup), child_spec(Ctx, Node)),
    call(Ctx, "start_child", Path, start_result(Ctx, R));
step(Ctx, _Top, ["start_dyn", Sup, Arg | Attrs]) ->
    %% An instance may script its own starts (starts=...).
    #{reg := Reg} = Ctx,
    [Template] = [P || {{node, P}, {dyn, _, _}} <- ets:tab2list(Reg),
                       parent(P) =:= Sup],
    case maps:find("starts", attrs(Attrs)) of
        {ok, Script} -> ets:insert(Reg, {{instance_starts, Template ++ "/" ++ Arg},
                                         Script});
        error -> ok
    end,
    R = supervisor:start_child(lookup_pid(Ctx, Sup), [Arg]),
    call(Ctx, "start_dyn", Sup ++ "/" ++ Arg, start_result(Ctx, R));
step(Ctx, _Top, ["terminate_child", Path]) ->
    Sup = lookup_pid(Ctx, sup_of(Ctx, Path)),
    R = supervisor:terminate_child(Sup, child_ref(Ctx, Path)),
    call(Ctx, "terminate_child", Path, ok_result(R));
step(Ctx, _Top, ["restart_child", Path]) ->
    Sup = lookup_pid(Ctx, sup_of(Ctx, Path)),
    R = supervisor:restart_child(Sup, child_ref(Ctx, Path)),
    call(Ctx, "restart_child", Path, start_result(Ctx, R));
step(Ctx, _Top, ["delete_child", Path]) ->
    Sup = lookup_pid(Ctx, sup_of(Ctx, Path)),
    R = supervisor:delete_child(Sup, child_ref(Ctx, Path)),
    call(Ctx, "delete_child", Path, ok_result(R));
step(Ctx, _Top, ["which_children", Sup]) ->
    Xs = supervisor:which_children(lookup_pid(Ctx, Sup)),
    Names0 = [child_name(Ctx, Sup, X) || X <- Xs],
    %% OTP's order; dynamic children (a map or a set inside OTP) sorted.
    Names = case attr(node_of(Ctx, Sup), "strategy", "one_for_one") of
                "simple_one_for_one" -> lists:sort(Names0);
                _ -> Names0
            end,
    call(Ctx, "which_children", Sup, lists:join(",", Names));
step(Ctx, _Top, ["count_children", Sup]) ->
    Cs = supervisor:count_children(lookup_pid(Ctx, Sup)),
    Text = io_lib:format("specs=~b,active=~b,supervisors=~b,workers=~b",
                         [proplists:get_value(K, Cs)
                          || K <- [specs, active, supervisors, workers]]),
    call(Ctx, "count_children", Sup, Text);
step(Ctx, _Top, ["get_childspec", Path]) ->
    Sup = lookup_pid(Ctx, sup_of(Ctx, Path)),
    Text = case supervisor:get_childspec(Sup, child_ref(Ctx, Path)) of
               {ok, #{restart := R, shutdown := S, type := T,
                      significant := G}} ->
                   io_lib:format("restart=~s,shutdown=~s,type=~s,"
                                 "significant=~s",
                                 [R, fmt_term(S), T, G]);
               {error, E} -> ["error:", fmt(E)]
           end,
    call(Ctx, "get_childspec", Path, Text).

%% Static children are addressed by id, dynamic ones by pid.
child_ref(Ctx, Path) ->
    case attr(node_of(Ctx, sup_of(Ctx, Path)), "strategy", "one_for_one") of
        "simple_one_for_one" -> lookup_pid(Ctx, Path);
        _ -> list_to_atom(basename(Path))
    end.

child_name(Ctx, Sup, {Id, Child, _, _}) ->
    Name = case Id of
               undefined when is_pid(Child) ->
                   #{reg := Reg} = Ctx,
                   [{_, P}] = ets:lookup(Reg, {path, Child}),
                   string:prefix(P, Sup ++ "/");
               undefined -> "?";
               _ -> atom_to_list(Id)
           end,
    Status = case Child of
                 Pid when is_pid(Pid) -> "running";
                 restarting -> "restarting";
                 undefined -> "stopped"
             end,
    Name ++ ":" ++ Status.

call(Ctx, Op, Arg, Result) ->
    log(Ctx, ["call ", Op, " ", Arg, " -> ", Result]).

start_result({error, Reason}) -> "error:" ++ fmt(Reason);
start_result({ok, undefined}) -> "ok:ignored";
start_result({ok, _Pid}) -> "ok";
start_result({ok, _Pid, _}) -> "ok".

start_result(Ctx, {error, {already_started, Pid}}) when is_pid(Pid) ->
    #{reg := Reg} = Ctx,
    case ets:lookup(Reg, {path, Pid}) of
        [{_, Path}] -> "error:already_started:" ++ Path;
        [] -> "error:already_started:?"
    end;
%% start_child's failure carries OTP's child record: {child, Pid, Id, MFA,
%% Restart, Significant, Shutdown, Type, Modules}.
start_result(_Ctx, {error, {Reason, ChildRec}})
  when is_tuple(ChildRec), element(1, ChildRec) =:= child ->
    "error:" ++ fmt(Reason) ++ ":child=" ++ fmt(element(3, ChildRec)) ++ ","
        ++ fmt(element(8, ChildRec));
start_result(_Ctx, R) -> start_result(R).

ok_result(ok) -> "ok";
ok_result({error, Reason}) -> "error:" ++ fmt(Reason).

parse_reason("normal") -> normal;
parse_reason("shutdown") -> shutdown;
parse_reason("shutdown:" ++ Term) -> {shutdown, list_to_atom(Term)};
parse_reason(Other) -> list_to_atom(Other).

%% OTP reasons in the trace format shared with the caflens runner.
fmt(normal) -> "normal";
fmt(shutdown) -> "shutdown";
fmt(killed) -> "killed";
fmt({shutdown, {failed_to_start_child, Id, R}}) ->
    "shutdown:failed_to_start_child:" ++ fmt(Id) ++ ":" ++ fmt(R);
fmt({shutdown, X}) -> "shutdown:" ++ fmt(X);
fmt(A) when is_atom(A) -> atom_to_list(A);
fmt(X) -> fmt_term(X).

fmt_term(X) -> lists:flatten(io_lib:format("~w", [X])).
