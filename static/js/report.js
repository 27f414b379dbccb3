/* Sorts the statements table in place. Without JavaScript the same links reload the page
   sorted on the server. */
(function () {
  var links = document.querySelector(".sort-links"), body = document.querySelector(".statements-table tbody");
  if (!links || !body) return;
  links.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-sort]");
    if (!link) return;
    event.preventDefault();
    var key = link.dataset.sort;
    var value = function (row) { var v = parseFloat(row.dataset[key]); return isNaN(v) ? -Infinity : v; };
    Array.from(body.rows)
      .sort(function (a, b) { return value(b) - value(a) || a.dataset.id - b.dataset.id; })
      .forEach(function (row) { body.appendChild(row); });
    links.querySelectorAll("a[data-sort]").forEach(function (other) {
      if (other === link) other.setAttribute("aria-current", "true"); else other.removeAttribute("aria-current");
    });
    document.querySelector(".statements-table .sorted-by").textContent = link.textContent;
    history.replaceState(null, "", "?sort=" + key + "#statements");
  });
})();
