"""The teacher's page: the queue and a contact sheet of every visitor's newest picture, live."""

TEACHER_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>nst-tutorial: the class</title>
<style>
 body { font-family: sans-serif; margin: 16px; }
 #sheet { display: flex; flex-wrap: wrap; gap: 10px; }
 figure { margin: 0; text-align: center; font-size: 13px; }
 figure img { height: 160px; display: block; border: 1px solid #ccc; }
 table { border-collapse: collapse; margin: 12px 0; } td, th { padding: 2px 10px; text-align: left; }
</style></head>
<body>
<h2>The class</h2>
<p id="summary">waiting for the server...</p>
<p><a id="zip" href="#">download every picture (zip)</a></p>
<div id="sheet"></div>
<table id="queue"><thead><tr><th>visitor</th><th>page</th><th>jobs: status (queue position)</th></tr></thead>
<tbody></tbody></table>
<script>
const token = new URLSearchParams(location.search).get("token");
document.getElementById("zip").href = "teacher/pictures.zip?token=" + encodeURIComponent(token);
function describe(job) {
  if (job.status === "queued") return "queued (" + job.position + ")";
  if (job.status === "running") return "running (iteration " + job.iteration + ")";
  return job.status;
}
async function refresh() {
  try {
    const state = await (await fetch("teacher/state?token=" + encodeURIComponent(token))).json();
    document.getElementById("summary").textContent = state.visitors.length + " visitors, " + state.running +
      " painting on " + state.workers + " workers, " + state.queued + " waiting";
    const sheet = document.getElementById("sheet"), rows = document.querySelector("#queue tbody");
    rows.innerHTML = "";
    for (const v of state.visitors) {
      const row = rows.insertRow();
      row.insertCell().textContent = "visitor " + v.visitor;
      row.insertCell().textContent = v.present ? "open" : "closed";
      row.insertCell().textContent = v.jobs.map(describe).join(", ") || "no Run yet";
      if (!v.picture) continue;
      let figure = document.getElementById("v-" + v.key);
      if (!figure) {
        figure = document.createElement("figure");
        figure.id = "v-" + v.key;
        figure.innerHTML = "<img alt='visitor " + v.visitor + "'><figcaption>visitor " + v.visitor + "</figcaption>";
        sheet.appendChild(figure);
      }
      figure.querySelector("img").src = "teacher/pictures/" + v.key + ".png?token=" +
        encodeURIComponent(token) + "&t=" + Date.now();
    }
  } catch (e) {
    document.getElementById("summary").textContent = "cannot reach the server: " + e;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body></html>
"""
