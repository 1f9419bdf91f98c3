// Progressive enhancement only: the form works without it.
// Typing an amount under "Other" selects "Other"; picking a preset clears the typed amount.
document.addEventListener('DOMContentLoaded', function () {
  var typed = document.getElementById('amount-other');
  var other = document.getElementById('amount-other-choice');
  if (!typed || !other) return;
  typed.addEventListener('input', function () {
    if (typed.value.trim() !== '') other.checked = true;
  });
  document.querySelectorAll('input[name="amount"]').forEach(function (radio) {
    radio.addEventListener('change', function () {
      if (radio !== other && radio.checked) typed.value = '';
    });
  });
});
