// Stripe Payment Element for an order (https://docs.stripe.com/payments/payment-element).
// The PaymentIntent was created on the server; its outcome is recorded by the webhook and
// re-read when Stripe sends the customer back to the order page.
(function () {
  const form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  elements.create("payment").mount("#payment-element");
  const button = document.getElementById("pay-button");
  const message = document.getElementById("payment-message");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    message.textContent = "";
    const { error } = await stripe.confirmPayment({ elements, confirmParams: { return_url: form.dataset.returnUrl } });
    // Only reached when the payment could not be confirmed (otherwise Stripe redirects).
    message.textContent = error.message || "The payment did not go through.";
    button.disabled = false;
  });
})();
