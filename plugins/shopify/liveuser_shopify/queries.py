"""The Admin GraphQL documents the plugin sends; a test validates each against the schema."""

from __future__ import annotations

from typing import Final

CUSTOMER_ORDERS: Final = """
query LiveUserCustomerOrders($email: String!, $orderCount: Int!) {
  customer: customerByIdentifier(identifier: { emailAddress: $email }) {
    id
    displayName
    defaultEmailAddress { emailAddress }
    numberOfOrders
    orders(first: $orderCount, sortKey: CREATED_AT, reverse: true) {
      nodes {
        ...LiveUserOrder
      }
    }
  }
}
"""

ORDER_BY_NUMBER: Final = """
query LiveUserOrderByNumber($email: String!, $q: String!) {
  customer: customerByIdentifier(identifier: { emailAddress: $email }) {
    id
    defaultEmailAddress { emailAddress }
    orders(first: 5, query: $q) {
      nodes {
        ...LiveUserOrder
      }
    }
  }
}
"""

ORDER_FRAGMENT: Final = """
fragment LiveUserOrder on Order {
  id
  name
  createdAt
  cancelledAt
  cancelReason
  closedAt
  displayFinancialStatus
  displayFulfillmentStatus
  returnStatus
  customer { id }
  currentTotalPriceSet { shopMoney { amount currencyCode } }
  shippingAddress { city provinceCode countryCodeV2 }
  lineItems(first: 10) {
    nodes { title variantTitle sku quantity currentQuantity unfulfilledQuantity }
  }
  fulfillments(first: 5) {
    name
    status
    displayStatus
    createdAt
    inTransitAt
    estimatedDeliveryAt
    deliveredAt
    trackingInfo(first: 3) { company number url }
  }
  fulfillmentOrders(first: 5) {
    nodes {
      status
      fulfillBy
      deliveryMethod { methodType presentedName minDeliveryDateTime maxDeliveryDateTime }
    }
  }
  refunds(first: 5) {
    createdAt
    totalRefundedSet { shopMoney { amount currencyCode } }
  }
}
"""

CHECK_STOCK: Final = """
query LiveUserCheckStock($productQuery: String!, $variantQuery: String!) {
  products(first: 5, query: $productQuery) {
    nodes {
      id
      title
      status
      totalInventory
      tracksInventory
      variants(first: 10) {
        nodes {
          id title sku availableForSale inventoryQuantity inventoryPolicy
          inventoryItem { tracked }
        }
      }
    }
  }
  productVariants(first: 5, query: $variantQuery) {
    nodes {
      id title sku availableForSale inventoryQuantity inventoryPolicy
      inventoryItem { tracked }
      product { id title status }
    }
  }
}
"""

ACTION_ORDER_FRAGMENT: Final = """
fragment LiveUserActionOrder on Order {
  id
  name
  cancelledAt
  displayFulfillmentStatus
  displayFinancialStatus
  customer { id }
  currentTotalPriceSet { shopMoney { amount currencyCode } }
  shippingAddress { address1 address2 city provinceCode countryCodeV2 zip }
  lineItems(first: 20) {
    nodes {
      id
      title
      variantTitle
      sku
      currentQuantity
      originalUnitPriceSet { shopMoney { amount currencyCode } }
    }
  }
  refunds(first: 10) { id note totalRefundedSet { shopMoney { amount currencyCode } } }
  transactions(first: 5) { id gateway kind status amountSet { shopMoney { amount } } }
}
"""

ACTION_ORDER_BY_NUMBER: Final = """
query LiveUserActionOrderByNumber($email: String!, $q: String!) {
  customer: customerByIdentifier(identifier: { emailAddress: $email }) {
    id
    defaultEmailAddress { emailAddress }
    orders(first: 2, query: $q) {
      nodes {
        ...LiveUserActionOrder
      }
    }
  }
}
"""

ACTION_ORDER_BY_ID: Final = """
query LiveUserActionOrderById($id: ID!) {
  order(id: $id) {
    ...LiveUserActionOrder
  }
}
"""

ORDER_CANCEL: Final = """
mutation LiveUserOrderCancel($id: ID!) {
  orderCancel(
    orderId: $id
    reason: CUSTOMER
    restock: true
    notifyCustomer: true
    refundMethod: { originalPaymentMethodsRefund: true }
  ) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}
"""

JOB: Final = """
query LiveUserJob($id: ID!) {
  job(id: $id) { id done }
}
"""

ORDER_UPDATE: Final = """
mutation LiveUserOrderUpdate($input: OrderInput!) {
  orderUpdate(input: $input) {
    order { id }
    userErrors { field message }
  }
}
"""

REFUND_CREATE: Final = """
mutation LiveUserRefundCreate($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { id totalRefundedSet { shopMoney { amount currencyCode } } }
    userErrors { field message }
  }
}
"""

DOCUMENTS: Final = {
    "LiveUserCustomerOrders": CUSTOMER_ORDERS + ORDER_FRAGMENT,
    "LiveUserOrderByNumber": ORDER_BY_NUMBER + ORDER_FRAGMENT,
    "LiveUserCheckStock": CHECK_STOCK,
    "LiveUserActionOrderByNumber": ACTION_ORDER_BY_NUMBER + ACTION_ORDER_FRAGMENT,
    "LiveUserActionOrderById": ACTION_ORDER_BY_ID + ACTION_ORDER_FRAGMENT,
    "LiveUserOrderCancel": ORDER_CANCEL,
    "LiveUserJob": JOB,
    "LiveUserOrderUpdate": ORDER_UPDATE,
    "LiveUserRefundCreate": REFUND_CREATE,
}
"""Every document, by operation name, as it is sent."""
