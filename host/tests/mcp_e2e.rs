//! The workers' MCP server, driven by a real MCP client (rmcp's, over stdio), calling every tool.

mod support;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};
use support::*;

fn text(result: &CallToolResult) -> Value {
    let raw = serde_json::to_value(&result.content).unwrap();
    let body = raw[0]["text"].as_str().unwrap_or_default().to_string();
    serde_json::from_str(&body).unwrap_or(Value::String(body))
}

fn call(name: &str, args: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_string()).with_arguments(args.as_object().unwrap().clone())
}

#[test]
fn a_real_mcp_client_calls_every_tool_as_the_worker_named_by_team_agent_id() {
    let env = TeamEnv::new();
    env.up_starter();
    let bob_session = env.session_of("bob");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut command = tokio::process::Command::new(team_agent_bin());
        command
            .arg("mcp-server")
            .current_dir(env.workspace())
            .env("HOME", env.home())
            .env("TMUX_TMPDIR", env.tmux_dir())
            .env("TEAM_AGENT_PLUGIN_PATH", bundled_dir())
            .env("TEAM_AGENT_ID", "alice")
            .env("TEAM_AGENT_WORKSPACE", env.workspace());
        let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();

        let tools = client.list_all_tools().await.unwrap();
        let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "get_team_status",
                "report_result",
                "request_human",
                "send_message"
            ]
        );

        let sent = client
            .call_tool(call(
                "send_message",
                json!({"to": "bob", "content": "hello from alice", "task_id": "mcp-1"}),
            ))
            .await
            .unwrap();
        assert_eq!(sent.is_error, Some(false), "{:?}", text(&sent));
        assert_eq!(text(&sent)["messages"][0]["to"], "bob");

        let bad = client
            .call_tool(call("send_message", json!({"content": "no recipient"})))
            .await
            .unwrap();
        assert_eq!(bad.is_error, Some(true));
        assert!(
            text(&bad)["error"].as_str().unwrap().contains("`to`"),
            "{:?}",
            text(&bad)
        );
        let unknown = client
            .call_tool(call(
                "send_message",
                json!({"to": "mallory", "content": "x"}),
            ))
            .await
            .unwrap();
        assert_eq!(unknown.is_error, Some(true));

        let reported = client
            .call_tool(call(
                "report_result",
                json!({"summary": "reviewed", "status": "success", "task_id": "mcp-1",
                "tests": [{"command": "cargo test", "status": "passed"}]}),
            ))
            .await
            .unwrap();
        assert_eq!(reported.is_error, Some(false), "{:?}", text(&reported));
        assert_eq!(
            text(&reported)["agent_id"],
            "alice",
            "the caller comes from TEAM_AGENT_ID"
        );

        let invalid = client
            .call_tool(call(
                "report_result",
                json!({"summary": "x", "status": "great"}),
            ))
            .await
            .unwrap();
        assert_eq!(invalid.is_error, Some(true));
        assert!(
            text(&invalid)["error"].as_str().unwrap().contains("status"),
            "{:?}",
            text(&invalid)
        );
        let missing = client
            .call_tool(call("report_result", json!({})))
            .await
            .unwrap();
        assert!(
            text(&missing)["error"]
                .as_str()
                .unwrap()
                .contains("`summary` is required")
        );

        let status = client
            .call_tool(call("get_team_status", json!({})))
            .await
            .unwrap();
        assert_eq!(text(&status)["agents"].as_array().unwrap().len(), 2);

        let human = client
            .call_tool(call("request_human", json!({"question": "ship it?"})))
            .await
            .unwrap();
        assert_eq!(text(&human)["status"], "needs_human", "{:?}", text(&human));

        client.cancel().await.unwrap();
    });
    assert!(wait_until(20, || env
        .received(&bob_session)
        .iter()
        .any(|t| t.contains("hello from alice"))));
    let (_, results) = env.json(&["results", "--task", "mcp-1"]);
    assert_eq!(results["results"][0]["agent_id"], "alice");
    let inbox = std::fs::read_to_string(env.runtime().join("leader-inbox.log")).unwrap();
    assert!(
        inbox.contains("alice needs a human decision: ship it?"),
        "{inbox}"
    );
}

#[test]
fn the_leaders_mcp_server_runs_the_team_start_to_shutdown() {
    let env = TeamEnv::new();
    assert!(env.run(&["init", "team"]).status.success());
    std::fs::write(
        env.workspace().join("carol.md"),
        "---\nname: carol\nrole: tester\nprovider: scripted\n---\nYou test.\n",
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut command = tokio::process::Command::new(team_agent_bin());
        let path = format!(
            "{}:{}",
            bundled_dir().display(),
            std::env::var("PATH").unwrap()
        );
        command
            .arg("mcp-server")
            .current_dir(env.workspace())
            .env("HOME", env.home())
            .env("PATH", path)
            .env("TMUX_TMPDIR", env.tmux_dir())
            .env("TEAM_AGENT_PLUGIN_PATH", bundled_dir())
            .env_remove("TEAM_AGENT_ID")
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .env("TEAM_AGENT_WORKSPACE", env.workspace());
        let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
        let mut names: Vec<String> = client
            .list_all_tools()
            .await
            .unwrap()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "add_agent",
                "diff_agent",
                "get_team_status",
                "merge_agent",
                "send_message",
                "shutdown_team",
                "start_team",
                "stop_agent"
            ]
        );
        let tool = |name: &'static str, args: Value| {
            let client = &client;
            async move {
                let result = client.call_tool(call(name, args)).await.unwrap();
                (result.is_error != Some(true), text(&result))
            }
        };

        let (ok, missing) = tool("start_team", json!({})).await;
        assert!(!ok && missing["error"].as_str().unwrap().contains("`definition`"));
        let (ok, started) = tool("start_team", json!({"definition": "team"})).await;
        assert!(ok, "{started}");
        assert_eq!(started["agents"].as_array().unwrap().len(), 2);
        let (ok, again) = tool("start_team", json!({"definition": "team"})).await;
        assert!(!ok, "a second start is refused: {again}");
        assert!(again["error"].as_str().unwrap().contains("team-agent up team"));

        let (ok, sent) = tool(
            "send_message",
            json!({"to": "alice", "content": "@scripted report success done as the leader asked", "task_id": "lead-1"}),
        )
        .await;
        assert!(ok, "{sent}");
        let (ok, _) = tool("report_result", json!({"summary": "x"})).await;
        assert!(!ok, "report_result is a worker tool");

        let (ok, added) = tool("add_agent", json!({"id": "carol", "role_file": "carol.md"})).await;
        assert!(ok, "{added}");
        let (_, status) = tool("get_team_status", json!({})).await;
        assert_eq!(status["agents"].as_array().unwrap().len(), 3, "{status}");
        let (ok, stopped) = tool("stop_agent", json!({"agent_id": "carol"})).await;
        assert!(ok, "{stopped}");
        let (ok, unknown) = tool("stop_agent", json!({"agent_id": "mallory"})).await;
        assert!(!ok && unknown["error"].as_str().unwrap().contains("mallory"));
        // The review tools reach the command line: a worker without a worktree has nothing to
        // diff or merge, and says why.
        for name in ["diff_agent", "merge_agent"] {
            let (ok, refused) = tool(name, json!({"agent_id": "alice"})).await;
            assert!(!ok, "{name}: {refused}");
            assert!(
                refused["error"].as_str().unwrap().contains("isolation: none"),
                "{name}: {refused}"
            );
        }
        let (ok, missing) = tool("merge_agent", json!({})).await;
        assert!(!ok && missing["error"].as_str().unwrap().contains("`agent_id`"));

        let (ok, waited) = env.json(&["wait", "--task", "lead-1", "--timeout", "30"]);
        assert!(ok, "alice reports the leader's task: {waited}");
        let (ok, down) = tool("shutdown_team", json!({})).await;
        assert!(ok, "{down}");
        client.cancel().await.unwrap();
    });
    let (_, results) = env.json(&["results", "--task", "lead-1"]);
    assert_eq!(results["results"][0]["agent_id"], "alice", "{results}");
    assert_eq!(env.status()["running"], false);
}
